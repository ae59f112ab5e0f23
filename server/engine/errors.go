package engine

import "errors"

// ErrUnavailable is wrapped by the errors of an engine that could not be reached (connection
// refused or reset, the engine or a proxy answering unavailable): the workflow did not run, or
// did not finish, for reasons that are not its own. A worker hands such an execution back
// without spending an attempt.
var ErrUnavailable = errors.New("engine unavailable")
