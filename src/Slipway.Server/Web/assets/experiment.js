// Browser-side code of the experiment pages.
