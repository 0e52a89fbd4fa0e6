"""Worker side of the data path: claim a job, rasterize page by page, preprocess, recognise, order the
lines and write each finished page. Identical whichever queue delivered the job id."""
