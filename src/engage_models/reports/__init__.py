"""Reports: the runner that renders the notebooks into self-contained HTML, and the executive summary's views."""
