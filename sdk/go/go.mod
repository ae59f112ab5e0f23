module github.com/workflow-runtime/workflow-runtime/sdk/go

go 1.24.0

require (
	buf.build/gen/go/bufbuild/protovalidate/protocolbuffers/go v1.36.12-20260825204119-511051f7f437.2
	connectrpc.com/connect v1.19.1
	github.com/cenkalti/backoff/v5 v5.0.3
	github.com/matryer/is v1.4.1
	github.com/workflow-runtime/workflow-runtime/gen v0.0.0
	google.golang.org/genproto/googleapis/rpc v0.0.0-20260128011058-8636f8732409
	google.golang.org/protobuf v1.36.12
)

// Inside this repository the SDK builds against the generated code next to it. A released
// sdk/go/vX.Y.Z requires a tagged gen/vX.Y.Z instead (see README.md, "Releasing"): replace
// directives apply only to the module they are written in, never to its users.
replace github.com/workflow-runtime/workflow-runtime/gen => ../../gen
