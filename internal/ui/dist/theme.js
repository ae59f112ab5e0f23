// Applies the saved theme before the first paint, so a dark page does not flash white. A file of
// its own (not inline) so that the service's Content-Security-Policy can say script-src 'self'.
try {
  var t = localStorage.getItem("wfr.theme");
  if (t === "light" || t === "dark") document.documentElement.dataset.theme = t;
} catch (e) {}
