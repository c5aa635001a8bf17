import { getTracking } from '../../lib/tracking';

export default async function Pricing() {
  (await getTracking()).track('Viewed Pricing', { path: '/pricing' });
  return (
    <>
      <h1>Pricing</h1>
      <table>
        <tbody>
          <tr>
            <th>Hobby</th>
            <td>free</td>
          </tr>
          <tr>
            <th>Pro</th>
            <td>$20 a month</td>
          </tr>
        </tbody>
      </table>
    </>
  );
}
