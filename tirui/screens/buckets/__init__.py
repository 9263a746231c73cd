"""The Buckets screen: browse, filter and sort a store, its actions (upload, download, delete, deploy)
and the transfer dialog, with the Messages its workers post."""
