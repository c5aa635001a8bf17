import { html, type SafeHtml } from './html.js';
import { DEVICE_PREFIX } from '../id-merge.js';

/** What the page knows about one identity cluster, for drawing it. */
export interface ClusterPicture {
  /** null for a device no user has been seen with. */
  readonly userId: string | null;
  /** Raw `$device_id`s, sorted, each with the count of events stored under `$device:<id>`. */
  readonly devices: ReadonlyArray<{ readonly id: string; readonly anonymousEvents: number }>;
  /** Events stored under the user id itself. */
  readonly userEvents: number;
}

// Geometry in px. Labels are monospace at 12px, about 7.3 px a character.
/** Devices drawn; the rest are summarised in one box (a user may have any number). */
export const DEVICES_DRAWN = 12;
const BOX_HEIGHT = 38;
const ROW = 48; // box plus gap
const CHAR = 7.3;
const DETAIL_CHAR = 6.2; // the second line is 11px sans-serif
const PAD = 12;
const ARROW = 110;
const MAX_LABEL = 46; // characters before a label is cut (the full id is in the box's tooltip)

/**
 * The cluster as an inline SVG: each device on the left with an arrow to the user on the right, the way
 * the guide says "D1, D2 and U1 are inside one ID cluster". A lone device gets a dashed "no user yet" box.
 */
export function clusterSvg(cluster: ClusterPicture): SafeHtml {
  const drawn = cluster.devices.slice(0, DEVICES_DRAWN);
  const hidden = cluster.devices.length - drawn.length;
  const labels = drawn.map((device) => cut(DEVICE_PREFIX + device.id));
  if (hidden > 0) labels.push(`+ ${hidden} more devices`);
  const deviceWidth = Math.max(190, ...labels.map((label) => label.length * CHAR + 2 * PAD));
  const userLabel = cluster.userId === null ? 'no $user_id yet' : cut(cluster.userId);
  const userDetail = cluster.userId === null ? 'events stay anonymous' : `${events(cluster.userEvents)} sent as the user`;
  const userWidth = Math.max(150, userLabel.length * CHAR + 2 * PAD, userDetail.length * DETAIL_CHAR + 2 * PAD);
  const rows = Math.max(1, labels.length);
  const height = rows * ROW;
  const userX = deviceWidth + ARROW;
  const userY = (height - BOX_HEIGHT) / 2;
  const width = userX + userWidth + 2;
  const linked = cluster.userId !== null;

  const boxes = labels.map((label, index) => {
    const y = index * ROW + (ROW - BOX_HEIGHT) / 2;
    const device = drawn[index];
    const detail = device ? `${events(device.anonymousEvents)} ${linked ? 'sent as the device' : 'anonymous'}` : 'listed below';
    const full = device ? DEVICE_PREFIX + device.id : label;
    return html`<g class="device"><title>${full}</title>
      <rect x="1" y="${y}" width="${deviceWidth - 2}" height="${BOX_HEIGHT}" rx="6"></rect>
      <text x="${PAD}" y="${y + 16}" class="id">${label}</text>
      <text x="${PAD}" y="${y + 30}" class="detail">${detail}</text>
      <path d="M ${deviceWidth} ${y + BOX_HEIGHT / 2} C ${deviceWidth + ARROW / 2} ${y + BOX_HEIGHT / 2}, ${userX - ARROW / 2} ${height / 2}, ${userX - 4} ${height / 2}"
        class="${linked ? 'link' : 'link pending'}" marker-end="url(#idstitch-arrow)"></path></g>`;
  });
  const description = linked
    ? `Identity cluster: ${cluster.devices.length === 1 ? 'device' : 'devices'} ${cluster.devices.map((d) => d.id).join(', ')} linked to user ${cluster.userId}`
    : `Device ${cluster.devices[0]?.id ?? ''}, not linked to any user`;

  return html`<svg class="cluster" role="img" aria-label="${description}" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" xmlns="http://www.w3.org/2000/svg">
    <defs><marker id="idstitch-arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse"><path d="M 0 0 L 10 5 L 0 10 z"></path></marker></defs>
    ${boxes}
    <g class="${linked ? 'user' : 'user pending'}"><title>${cluster.userId ?? 'Events stay on $device:… until an event carries this device and a $user_id'}</title>
      <rect x="${userX}" y="${userY}" width="${userWidth - 2}" height="${BOX_HEIGHT}" rx="6"></rect>
      <text x="${userX + PAD}" y="${userY + 16}" class="id">${userLabel}</text>
      <text x="${userX + PAD}" y="${userY + 30}" class="detail">${userDetail}</text></g>
  </svg>`;
}

function cut(label: string): string {
  return label.length > MAX_LABEL ? label.slice(0, MAX_LABEL - 1) + '…' : label;
}

export function events(n: number): string {
  return `${n} event${n === 1 ? '' : 's'}`;
}
