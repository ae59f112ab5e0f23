package deployments

import (
	"fmt"
	"maps"
	"net/url"
	"slices"
	"strings"

	"github.com/workflow-runtime/workflow-runtime/internal/errdefs"
)

// RedactedHeader stands for the value of an http node's header in what a caller without the
// admin scope reads (internal/api): header values carry credentials (Authorization, API keys).
// Sent back in a definition to Deploy or Update it means "keep the stored value of this header
// of this node", so a dashboard can read, edit and write a definition whole.
const RedactedHeader = "[redacted]"

// RedactHeaders returns d with each header value of its http nodes replaced by RedactedHeader.
// d is not modified: the nodes it changes are copies.
func RedactHeaders(d Definition) Definition {
	copied := false
	for i, n := range d.Nodes {
		headers := httpHeaders(n)
		if len(headers) == 0 {
			continue
		}
		if !copied {
			d.Nodes, copied = slices.Clone(d.Nodes), true
		}
		masked := make(map[string]any, len(headers))
		for name := range headers {
			masked[name] = RedactedHeader
		}
		d.Nodes[i].Params = maps.Clone(n.Params)
		d.Nodes[i].Params["headers"] = masked
	}
	return d
}

// httpHeaders returns the headers param of an http node, nil for any other node.
func httpHeaders(n Node) map[string]any {
	if n.Type != "http" {
		return nil
	}
	h, _ := n.Params["headers"].(map[string]any)
	return h
}

// keepRedactedHeaders replaces each RedactedHeader value among the headers of d's http nodes
// with the value stored for the same node id and header name in stored (the deployment's
// current definition; nil for a new workflow). A marker is kept only while the node's url has
// the stored node's scheme and host, so that a caller who cannot read a credential cannot
// send it to a server of its choosing either; a marker with no value to keep is a violation.
// d's nodes are replaced, never modified: they may be the caller's.
func keepRedactedHeaders(d, stored *Definition) error {
	v := &errdefs.ValidationError{}
	var nodes []Node
	for i, n := range d.Nodes {
		headers := httpHeaders(n)
		if !hasRedacted(headers) {
			continue
		}
		var old Node
		if stored != nil {
			if j := slices.IndexFunc(stored.Nodes, func(s Node) bool { return s.ID == n.ID }); j >= 0 {
				old = stored.Nodes[j]
			}
		}
		oldHeaders := httpHeaders(old)
		host := origin(n.Params["url"])
		sameHost := host != "" && host == origin(old.Params["url"])
		kept := maps.Clone(headers)
		field := fmt.Sprintf("definition.nodes[%d].params.headers", i)
		for _, name := range slices.Sorted(maps.Keys(headers)) {
			if headers[name] != RedactedHeader {
				continue
			}
			value, ok := oldHeaders[name]
			switch {
			case !ok:
				v.Add(field, "http.header_redacted", "header %q is %s, but node %q has no stored value for it: send the value", name, RedactedHeader, n.ID)
			case !sameHost:
				v.Add(field, "http.header_redacted_host", "header %q is %s, but node %q's url is on another host than the stored one: send the value again", name, RedactedHeader, n.ID)
			default:
				kept[name] = value
			}
		}
		if nodes == nil {
			nodes = slices.Clone(d.Nodes)
		}
		nodes[i].Params = maps.Clone(n.Params)
		nodes[i].Params["headers"] = kept
	}
	if err := v.OrNil(); err != nil {
		return err
	}
	if nodes != nil {
		d.Nodes = nodes
	}
	return nil
}

func hasRedacted(headers map[string]any) bool {
	for _, value := range headers {
		if value == RedactedHeader {
			return true
		}
	}
	return false
}

// origin is scheme://host[:port] of an http node's url param, lower case; "" when it is not
// one.
func origin(raw any) string {
	s, _ := raw.(string)
	u, err := url.Parse(s)
	if err != nil || u.Host == "" {
		return ""
	}
	return strings.ToLower(u.Scheme + "://" + u.Host)
}
