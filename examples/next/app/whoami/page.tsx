import { getTracking } from '../../lib/tracking';

export default async function WhoAmI() {
  const { deviceId, userId } = await getTracking();
  return (
    <>
      <h1>Who am I</h1>
      <table>
        <tbody>
          <tr>
            <th>
              Device id (<code>$device_id</code>)
            </th>
            <td>
              <code id="device-id">{deviceId}</code>
            </td>
          </tr>
          <tr>
            <th>
              User id (<code>$user_id</code>)
            </th>
            <td>
              <code id="user-id">{userId ?? '—'}</code>
            </td>
          </tr>
        </tbody>
      </table>
      <p>
        Events from this browser go to Mixpanel with both ids when you are signed in; <code>distinct_id</code> is left for Mixpanel to
        derive. The JSON views: <a href="/api/identity">a Route Handler</a>, <a href="/api/hello">a Pages API route</a>.
      </p>
    </>
  );
}
