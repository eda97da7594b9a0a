"""Values with no I/O: a hit and its outcome, a site, a page's normalized URL, a visitor id, share
records, page baseline rows."""
