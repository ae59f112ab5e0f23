// The reference gateway: a module of its own, as it would be outside this repository.
module github.com/workflow-runtime/workflow-runtime/examples/gateway

go 1.24.0

require (
	connectrpc.com/connect v1.19.1
	github.com/matryer/is v1.4.1
	github.com/workflow-runtime/workflow-runtime/gen v0.0.0
	github.com/workflow-runtime/workflow-runtime/sdk/go v0.0.0
	google.golang.org/protobuf v1.36.12
)

require (
	buf.build/gen/go/bufbuild/protovalidate/protocolbuffers/go v1.36.12-20260825204119-511051f7f437.2 // indirect
	github.com/cenkalti/backoff/v5 v5.0.3 // indirect
	google.golang.org/genproto/googleapis/rpc v0.0.0-20260128011058-8636f8732409 // indirect
)

// Inside this repository the gateway builds against the SDK and the generated code next to
// it. A copy outside requires tagged versions instead and drops these lines
// (sdk/go/README.md, "Versions and releasing").
replace (
	github.com/workflow-runtime/workflow-runtime/gen => ../../gen
	github.com/workflow-runtime/workflow-runtime/sdk/go => ../../sdk/go
)
