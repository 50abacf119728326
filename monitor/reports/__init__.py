"""Weekly and monthly reports (周报 / 月报) from the stored history: the figures (data.py,
incidents.py), charts (charts.py), HTML (render.py) and Markdown (markdown.py), built by
build.py for the ``brandpulse report`` command, the ``/reports/{week|month}`` page (routes.py)
and the daemon's scheduled sends (schedule.py, deliver.py)."""
