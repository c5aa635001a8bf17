// A Pages Router API route: withApiTracking hands it `tracking` as a third argument.
import type { NextApiRequest, NextApiResponse } from 'next';
import { withApiTracking } from '../../lib/tracking';

export default withApiTracking((_req: NextApiRequest, res: NextApiResponse, tracking) => {
  tracking.track('Checked Identity', { router: 'pages' });
  res.status(200).json({ deviceId: tracking.deviceId, userId: tracking.userId ?? null });
});
