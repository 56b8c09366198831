/* Draws the dashboard's charts with Chart.js from the JSON that the page embeds with
   json_script (#dashboard-data). The same numbers are in the page's tables. */
"use strict";
(function () {
  const source = document.getElementById("dashboard-data");
  if (!source || typeof window.Chart === "undefined") return;
  const data = JSON.parse(source.textContent);
  const Chart = window.Chart;

  const styles = getComputedStyle(document.documentElement);
  const ink = styles.getPropertyValue("--body-fg").trim() || "#333";
  const grid = styles.getPropertyValue("--hairline-color").trim() || "#e8e8e8";
  Chart.defaults.color = ink;
  Chart.defaults.borderColor = grid;
  Chart.defaults.font.family = getComputedStyle(document.body).fontFamily;
  Chart.defaults.animation = false;
  Chart.defaults.maintainAspectRatio = false;

  const red = "#c0392b";
  const blue = "#2f6fad";
  const green = "#2e7d4f";
  const amber = "#b7791f";
  const purple = "#6b4fa0";

  const percent = (value) => (value === null ? null : Math.round(value * 1000) / 10);
  const percentAxis = {
    min: 0,
    max: 100,
    ticks: { callback: (value) => value + "%" },
  };

  function draw(id, config) {
    const canvas = document.getElementById(id);
    if (canvas) new Chart(canvas, config);
  }

  draw("chart-daily", {
    type: "bar",
    data: {
      labels: data.daily.days,
      datasets: [
        { label: "Called disaster", data: data.daily.disaster, backgroundColor: red, stack: "p", order: 1 },
        { label: "Not a disaster", data: data.daily.not_disaster, backgroundColor: blue, stack: "p", order: 1 },
        {
          label: "Reviewed",
          data: data.daily.reviewed,
          type: "line",
          borderColor: green,
          backgroundColor: green,
          borderWidth: 3,
          pointRadius: 3,
          order: 0, // drawn over the bars
        },
        activationMarkers(),
      ],
    },
    options: {
      scales: {
        x: { stacked: true },
        y: { stacked: true, beginAtZero: true, ticks: { precision: 0 } },
      },
      interaction: { mode: "index", intersect: false },
      plugins: {
        tooltip: {
          callbacks: {
            label: (item) =>
              item.dataset.versions
                ? "Activated: " + item.dataset.versions[item.dataIndex]
                : item.dataset.label + ": " + item.formattedValue,
          },
        },
      },
    },
  });

  // A downward triangle on top of each day's bar when a version was activated that day;
  // the activations table under the chart says which, when and why.
  function activationMarkers() {
    const days = data.daily.days;
    const heights = days.map(() => null);
    const versions = days.map(() => null);
    for (const activation of data.activations) {
      const index = days.indexOf(activation.day);
      if (index < 0) continue;
      heights[index] = data.daily.disaster[index] + data.daily.not_disaster[index];
      versions[index] = versions[index] ? versions[index] + ", " + activation.version : activation.version;
    }
    return {
      label: "Model activated",
      data: heights,
      versions: versions,
      type: "line",
      stack: "activations", // not stacked on the reviewed line
      showLine: false,
      pointStyle: "triangle",
      rotation: 180,
      pointRadius: 9,
      pointHoverRadius: 11,
      borderColor: ink,
      backgroundColor: amber,
      order: -1,
    };
  }

  draw("chart-histogram", {
    type: "bar",
    data: {
      labels: data.histogram.bins,
      datasets: [{ label: "Predictions", data: data.histogram.counts, backgroundColor: purple }],
    },
    options: {
      plugins: { legend: { display: false } },
      scales: {
        x: { title: { display: true, text: "Probability of a real disaster" } },
        y: { beginAtZero: true, ticks: { precision: 0 } },
      },
      datasets: { bar: { categoryPercentage: 1.0, barPercentage: 0.95 } },
    },
  });

  const versions = data.versions;
  draw("chart-versions", {
    type: "bar",
    data: {
      labels: versions.names,
      datasets: [
        { label: "Called disaster", data: versions.disaster_share.map(percent), backgroundColor: red },
        { label: "Reviewed", data: versions.reviewed_share.map(percent), backgroundColor: green },
        { label: "Agreement", data: versions.agreement.map(percent), backgroundColor: blue },
        { label: "Precision", data: versions.precision.map(percent), backgroundColor: amber },
        { label: "Recall", data: versions.recall.map(percent), backgroundColor: purple },
      ],
    },
    options: {
      scales: { y: percentAxis },
      plugins: {
        tooltip: {
          callbacks: {
            label: (item) => item.dataset.label + ": " + (item.raw === null ? "-" : item.raw + "%"),
          },
        },
      },
    },
  });
})();
