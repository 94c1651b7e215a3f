// Load generator for the docker-compose demo (grafana/k6): a steady mix of health-agent requests so the
// dashboards have data within a minute. BASE_URL, TARGET_PATHS (comma-separated), RATE (requests/s) and
// DURATION come from the environment (docker-compose.yml).
import http from 'k6/http';

const BASE_URL = __ENV.BASE_URL || 'http://health-agent:8000';
const PATHS = (__ENV.TARGET_PATHS || '/api/v1/metrics').split(',').map((p) => p.trim()).filter((p) => p);

export const options = {
  discardResponseBodies: true,
  scenarios: {
    steady: {
      executor: 'constant-arrival-rate',
      rate: Number(__ENV.RATE || 20),
      timeUnit: '1s',
      duration: __ENV.DURATION || '24h',
      preAllocatedVUs: 10,
      maxVUs: 50,
    },
  },
};

export default function () {
  const path = PATHS[Math.floor(Math.random() * PATHS.length)];
  // Tag by path so k6's own summary groups requests the way the dashboards do.
  http.get(`${BASE_URL}${path}`, { tags: { name: path }, timeout: '10s' });
}
