// The capture review: the report of a standardized photo as the review
// panel lists it, one row per spec item, each value against its band with
// a pass/warn/fail mark. The rows come from the report's proof checks
// (kiosk/photo: Report.checks), so what the panel marks is what the
// station measured on the file itself.
//
// reportRows is pure (the browser tests call it); renderRows draws rows
// into a <tbody>, rewriting only what changed.

// ROWS are the report rows in display order: the proof check they show,
// the i18n key of their name, and how value and band read.
const ROWS = [
  { check: "pixels", key: "rowPixels", value: (c, r) => `${r.width} × ${r.height}`, band: () => "" },
  { check: "size", key: "rowSize", value: (c) => `${kb(c.value)} KB`, band: (c) => `${kb(c.min)}–${kb(c.max)} KB` },
  { check: "quality", key: "rowQuality", value: (c) => fmt(c.value, 0), band: (c) => `${fmt(c.min, 0)}–${fmt(c.max, 0)}` },
  { check: "density", key: "rowDensity", value: (c) => `${fmt(c.value, 0)} dpi`, band: (c) => `= ${fmt(c.min, 0)} dpi` },
  { check: "eye_line", key: "rowEyeLine", value: px, band: pxBand },
  { check: "crown", key: "rowCrown", value: px, band: pxBand },
  { check: "face_width", key: "rowFaceWidth", value: px, band: pxBand },
  { check: "centre", key: "rowCentre", value: px, band: pxBand },
  {
    check: "background",
    key: "rowBackground",
    // The ΔE of the worst patch; the band is the check's own measure: in
    // replace mode the largest channel difference (levels), otherwise ΔE.
    value: (c, r) => fmt(r.background_delta_e ?? 0, 1),
    band: (c, r) => (r.mode === "replace" ? `RGB Δ ${fmt(c.value, 1)} ≤ ${fmt(c.max, 1)}` : `≤ ${fmt(c.max, 1)}`),
  },
  { check: "exposure", key: "rowExposure", value: (c) => fmt(c.value, 2), band: (c) => `${fmt(c.min, 2)}–${fmt(c.max, 2)}` },
];

const STATUSES = ["pass", "warn", "fail"];
export const MARKS = { pass: "✓", warn: "!", fail: "✕" };

function fmt(v, digits) {
  return typeof v === "number" && Number.isFinite(v) ? v.toFixed(digits) : "—";
}

function kb(bytes) {
  return fmt(bytes / 1024, 0);
}

function px(c) {
  return `${fmt(c.value, 0)} px`;
}

function pxBand(c) {
  return `${fmt(c.min, 0)}–${fmt(c.max, 0)} px`;
}

// reportRows returns the rows of report: [{id, key, value, band, status}],
// for the spec items the report measured, in display order.
export function reportRows(report) {
  const rows = [];
  if (!report || !Array.isArray(report.checks)) return rows;
  for (const row of ROWS) {
    const c = report.checks.find((x) => x && x.id === row.check);
    if (!c) continue;
    rows.push({
      id: row.check,
      key: row.key,
      value: row.value(c, report),
      band: row.band(c, report),
      status: STATUSES.includes(c.status) ? c.status : "fail",
    });
  }
  return rows;
}

// failedChecks returns the ids of the proof checks that failed.
export function failedChecks(report) {
  if (!report || !Array.isArray(report.checks)) return [];
  return report.checks.filter((c) => c && c.status === "fail").map((c) => c.id);
}

// rowKey returns the i18n key of a proof check's name ("" if it has none).
export function rowKey(id) {
  return ROWS.find((r) => r.check === id)?.key ?? "";
}

// renderRows fills tbody with rows, names translated by t.
export function renderRows(tbody, rows, t) {
  while (tbody.rows.length > rows.length) tbody.deleteRow(-1);
  rows.forEach((r, i) => {
    const tr = tbody.rows[i] ?? tbody.insertRow();
    if (tr.cells.length === 0) {
      for (const cls of ["report-mark", "report-name", "report-value", "report-band"]) {
        tr.insertCell().className = cls;
      }
    }
    tr.dataset.id = r.id;
    tr.dataset.status = r.status;
    const cells = [MARKS[r.status], t(r.key), r.value, r.band];
    cells.forEach((text, j) => {
      if (tr.cells[j].textContent !== text) tr.cells[j].textContent = text;
    });
    tr.cells[0].setAttribute("aria-label", t(`status${r.status[0].toUpperCase()}${r.status.slice(1)}`));
  });
}
