"""Objects: oids, tree manifests and the content-addressed object store."""
