// Browser-side code of the charts pages.
