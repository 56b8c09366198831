/* A background job's page: asks the API where the job is about once a second and updates the
   status, stage, bar and percentage; reloads the page when the job has finished, so the server
   renders its result or error. Without JavaScript the page's Refresh link does the same. */
"use strict";
(function () {
  const section = document.getElementById("job");
  if (!section || !section.dataset.jobApi) return;
  const STATUS_NAMES = { queued: "Queued", running: "Running", succeeded: "Succeeded", failed: "Failed" };
  const INTERVAL_MS = 1000;
  const RETRY_MS = 5000;
  const status = document.getElementById("job-status");
  const bar = document.getElementById("job-bar");
  const stage = document.getElementById("job-stage");
  const percent = document.getElementById("job-percent");
  const heartbeat = document.getElementById("job-heartbeat");

  function show(job) {
    section.dataset.status = job.status;
    status.textContent = STATUS_NAMES[job.status] || job.status;
    const stageText = job.status === "queued" ? "waiting for a worker" : job.stage || "starting";
    // The text is a live region: touch it only when it changes, or screen readers repeat it.
    if (stage.textContent !== stageText) stage.textContent = stageText;
    const percentText = job.progress + "%";
    if (percent.textContent !== percentText) percent.textContent = percentText;
    bar.value = job.progress;
    bar.textContent = percentText;
    if (heartbeat && job.heartbeat) {
      const time = document.createElement("time");
      time.dateTime = job.heartbeat;
      time.textContent = new Date(job.heartbeat).toLocaleTimeString();
      heartbeat.replaceChildren(time);
    }
  }

  function poll() {
    fetch(section.dataset.jobApi, { headers: { Accept: "application/json" }, credentials: "same-origin" })
      .then(function (response) {
        if (!response.ok) throw new Error("the job's address answered " + response.status);
        return response.json();
      })
      .then(function (job) {
        show(job);
        if (job.status === "succeeded" || job.status === "failed") {
          window.location.reload();
          return;
        }
        window.setTimeout(poll, INTERVAL_MS);
      })
      .catch(function () {
        // A restart or a network blip: try again a little later; the Refresh link still works.
        window.setTimeout(poll, RETRY_MS);
      });
  }

  window.setTimeout(poll, INTERVAL_MS);
})();
