"""The object store ("EOS" buckets): one ``ObjectStore`` interface over S3-compatible servers
(boto3) and local folders, ``eos://bucket/key`` URIs, streaming listings, transfers with
progress and cancellation, the loaded window of a listing (filter, sort, selection, paging),
and reading a ``.mar``'s manifest by range without downloading it.
No Textual; every call blocks and the UI runs them in workers."""
