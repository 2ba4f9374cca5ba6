export { Lab, sh } from '../../control/lab/netns.js';
