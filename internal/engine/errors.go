package engine

import (
	"fmt"

	"github.com/workflow-runtime/workflow-runtime/internal/errdefs"
)

// ErrUnavailable is wrapped by the errors of an engine that could not be reached (connection
// refused or reset, the engine or a proxy answering unavailable): the workflow did not run, or
// did not finish, for reasons that are not its own. A worker hands such an execution back
// without spending an attempt. It wraps errdefs.ErrUnavailable (a dependency does not answer).
var ErrUnavailable = fmt.Errorf("engine %w", errdefs.ErrUnavailable)
