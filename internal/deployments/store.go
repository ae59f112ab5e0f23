package deployments

import (
	"context"
)

// Store is what the deployment service needs from storage. internal/store implements it for
// PostgreSQL and SQLite; both pass the same contract suite (internal/store/storetest).
//
// Errors: errdefs.ErrNotFound for a missing row, errdefs.ErrAlreadyExists (wrapped with the
// webhook path) when a webhook path is taken by another live deployment, errdefs.ErrConflict when
// a concurrent writer inserted the same workflow first (the caller may retry).
type Store interface {
	// DeploymentGet returns the deployment with this id.
	DeploymentGet(ctx context.Context, id string) (*Deployment, error)
	// DeploymentGetByWorkflow returns the deployment of this workflow id.
	DeploymentGetByWorkflow(ctx context.Context, workflowID string) (*Deployment, error)
	// DeploymentList returns up to params.Limit deployments with workflow id > params.AfterWorkflowID,
	// ordered by workflow id, in one of params.Statuses (all when empty).
	DeploymentList(ctx context.Context, params *ListParams) ([]*Deployment, error)
	// InTx runs fn in one write transaction (SQLite: BEGIN IMMEDIATE; PostgreSQL: READ COMMITTED
	// with row locks). fn's error rolls it back and is returned as is.
	InTx(ctx context.Context, fn func(ctx context.Context, tx Tx) error) error
}

// Tx is the write side of Store, valid inside InTx only.
type Tx interface {
	// DeploymentGetForUpdate returns the deployment of this workflow id and locks its row until
	// the transaction ends. errdefs.ErrNotFound when there is none.
	DeploymentGetForUpdate(ctx context.Context, workflowID string) (*Deployment, error)
	// DeploymentGetByIDForUpdate is DeploymentGetForUpdate by deployment id.
	DeploymentGetByIDForUpdate(ctx context.Context, id string) (*Deployment, error)
	// DeploymentInsert inserts the workflows row (not the revision nor the triggers).
	// errdefs.ErrConflict when the workflow id exists already.
	DeploymentInsert(ctx context.Context, d *Deployment) error
	// DeploymentUpdate writes the workflows row's mutable columns: revision, status, deployed_at,
	// config, name, description, updated_at.
	DeploymentUpdate(ctx context.Context, d *Deployment) error
	// RevisionInsert stores d.Definition as revision d.Revision of d.WorkflowID.
	RevisionInsert(ctx context.Context, d *Deployment) error
	// TriggersReplace deletes the workflow's triggers and inserts d.Triggers.
	// errdefs.ErrAlreadyExists when a webhook path belongs to another deployment.
	TriggersReplace(ctx context.Context, d *Deployment) error
	// CalendarsMissing returns the names among names that no blackout calendar has.
	CalendarsMissing(ctx context.Context, names []string) ([]string, error)
}

// ListParams selects a page of DeploymentList.
type ListParams struct {
	Statuses        []Status
	AfterWorkflowID string
	Limit           int
}
