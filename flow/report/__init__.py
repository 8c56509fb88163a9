"""Reports people read: ``report.html`` from a build's JSON (:mod:`flow.report.html`) and design-space sweeps
over foldings with a Pareto plot (:mod:`flow.stages.sweep`). Heavy imports (matplotlib, hls4ml) are lazy."""
