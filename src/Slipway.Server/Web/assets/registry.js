// Browser-side code of the registry pages.
