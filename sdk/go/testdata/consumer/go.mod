// A gateway as the SDK's users write one, outside this repository's module: the SDK's tests
// (consumer_test.go) build it and check that its module graph holds nothing of the service.
module example.com/gateway

go 1.24.0

require (
	connectrpc.com/connect v1.19.1
	github.com/workflow-runtime/workflow-runtime/gen v0.0.0
	github.com/workflow-runtime/workflow-runtime/sdk/go v0.0.0
)

require (
	buf.build/gen/go/bufbuild/protovalidate/protocolbuffers/go v1.36.12-20260825204119-511051f7f437.2 // indirect
	github.com/cenkalti/backoff/v5 v5.0.3 // indirect
	google.golang.org/genproto/googleapis/rpc v0.0.0-20260128011058-8636f8732409 // indirect
	google.golang.org/protobuf v1.36.12 // indirect
)

// A gateway outside this repository requires tagged versions instead (sdk/go/README.md).
replace (
	github.com/workflow-runtime/workflow-runtime/gen => ../../../../gen
	github.com/workflow-runtime/workflow-runtime/sdk/go => ../..
)
