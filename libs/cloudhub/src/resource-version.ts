// One rule for both ends of the channel: it lives with the message model.
export {
  compareResourceVersions,
  isNewerResourceVersion as isNewerVersion,
} from '@ke/beehive';
