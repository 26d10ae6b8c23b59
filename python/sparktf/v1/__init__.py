"""Generated protobuf and gRPC stubs of proto/sparktf/v1 (built by scripts/gen_python_protos)."""
