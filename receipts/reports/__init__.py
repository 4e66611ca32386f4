"""Reports: the agent's session report and the daily reports of a branch, a governorate, the nation.

`data` reads the figures (and writes them as CSV), `pdf` draws them on A4,
`forms`, `views` and `urls` serve the pages.
"""
