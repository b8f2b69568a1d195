"""Tracklane's protocol: protobuf messages and gRPC stubs generated from ``proto/tracklane_proto``
by ``make protos`` (committed; ``make lint`` fails when they drift). Importing it runs nothing
of the SDK: the server imports it too."""
