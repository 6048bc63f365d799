// Plain fetch, as any front end would call the API from another origin.
"use strict";

const api = new URLSearchParams(location.search).get("api") + "/api/v1";

function show(id, value) {
  document.getElementById(id).textContent = String(value);
}

async function expect(response, status) {
  if (response.status !== status) {
    throw new Error(`${response.url}: ${response.status} ${await response.text()}`);
  }
  return response;
}

async function day(username, password) {
  // The token endpoint takes an OAuth2 form (a "simple" request: no preflight).
  const form = new URLSearchParams({ grant_type: "password", username, password });
  let r = await fetch(`${api}/auth/token`, { method: "POST", body: form });
  show("login-status", r.status);
  const { access_token: token } = await (await expect(r, 200)).json();
  const auth = { Authorization: `Bearer ${token}` };

  // Authorization is not a safelisted header: every call from here on is preflighted.
  r = await fetch(`${api}/cadres`, { headers: auth });
  show("cadres-status", r.status);
  const cadres = (await (await expect(r, 200)).json()).items;
  show("cadres", cadres.map((c) => c.name).join(","));

  const query = new URLSearchParams({ cadre_id: cadres[0].id, status: "pending" });
  r = await expect(await fetch(`${api}/study-logs?${query}`, { headers: auth }), 200);
  const log = (await r.json()).items[0];
  r = await expect(await fetch(`${api}/study-logs/${log.id}`, { headers: auth }), 200);
  // null unless the API exposes ETag to the page (Access-Control-Expose-Headers).
  const etag = r.headers.get("ETag");
  show("etag", etag);

  const approve = (ifMatch) =>
    fetch(`${api}/study-logs/${log.id}/approve`, {
      method: "POST",
      headers: { ...auth, "If-Match": ifMatch },
    });
  r = await approve(etag);
  show("approve-status", r.status);
  show("approved", (await (await expect(r, 200)).json()).status);
  show("new-etag", r.headers.get("ETag"));

  // The ETag read before the approval is stale now: a problem answer.
  r = await approve(etag);
  show("stale-status", r.status);
  show("stale-type", r.headers.get("Content-Type"));
  show("stale-request-id", r.headers.get("X-Request-ID"));
  const problem = await r.json();
  show("stale-code", problem.code);
  show("stale-body-request-id", problem.request_id);
}

document.getElementById("login").addEventListener("submit", async (event) => {
  event.preventDefault();
  try {
    await day(
      document.getElementById("username").value,
      document.getElementById("password").value,
    );
  } catch (error) {
    show("error", `${error.name}: ${error.message}`);
  } finally {
    show("done", "done");
  }
});
