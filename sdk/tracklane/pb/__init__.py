"""Generated protobuf and gRPC code for proto/tracklane/pb/*.proto (``make protos``; not in git)."""
