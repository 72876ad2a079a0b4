// A clip classifier's ROC curve on its validation segments (model page), with the chance diagonal.
const points = JSON.parse(document.getElementById("roc-points").textContent);

new window.Chart(document.getElementById("roc-chart"), {
  type: "scatter",
  data: {
    datasets: [
      { label: "model", data: points.map((p) => ({ x: p.fpr, y: p.tpr })), showLine: true, borderColor: "#4363D8", pointRadius: 0 },
      { label: "chance", data: [{ x: 0, y: 0 }, { x: 1, y: 1 }], showLine: true, borderColor: "#bbbbbb", borderDash: [4, 4], pointRadius: 0 },
    ],
  },
  options: {
    animation: false,
    maintainAspectRatio: false,
    scales: {
      x: { min: 0, max: 1, title: { display: true, text: "false positive rate" } },
      y: { min: 0, max: 1, title: { display: true, text: "true positive rate" } },
    },
  },
});
document.getElementById("roc-chart").dataset.drawn = String(points.length);
