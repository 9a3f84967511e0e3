package module

// ExternalService is a service outside XMPP that clients of a virtual
// host are told about (XEP-0215): a STUN or TURN server for calls.
type ExternalService struct {
	// Type is the XEP-0215 service type: "stun", "turn" or "turns".
	Type string
	// Host is the name or address clients reach it at, Port its port.
	Host string
	Port int
	// Transport is "udp" or "tcp".
	Transport string
	// Secret is the shared secret of its TURN REST credentials (coturn's
	// static-auth-secret); nil when it takes none.
	Secret []byte
}

// ExternalServices lists the external services the server itself runs
// (the built-in STUN/TURN server, [turn]); mod/extdisco advertises them
// next to those of its own section.
type ExternalServices interface {
	// ExternalServices returns the services for the clients of the
	// virtual host domain. The list is known once the server listens, so
	// call it when answering a request, not in a start function.
	ExternalServices(domain string) []ExternalService
}

// SetExternalServices gives the registry's modules the server's own
// external services; call it before modules start, and only when there
// are some.
func (r *Registry) SetExternalServices(es ExternalServices) { r.external = es }

// ExternalServices returns the server's own external services, or nil when
// it runs none.
func (h *Host) ExternalServices() ExternalServices { return h.reg.external }
