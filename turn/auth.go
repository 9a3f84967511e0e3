package turn

import (
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base64"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"

	pion "github.com/pion/turn/v4"
)

// auth checks TURN REST credentials (the scheme of coturn's
// use-auth-secret): the username is "<expiry>:<user>", expiry in Unix
// seconds, and the password base64(HMAC-SHA1(secret, username)). Whoever
// issued the pair knew the secret; the server only recomputes it.
type auth struct {
	secret []byte
	now    func() time.Time
	log    pionLogger
}

// key implements pion's AuthHandler: it returns the long-term key
// MD5(username:realm:password) of a username that is well formed and not
// expired, and false otherwise (the client gets 401).
func (a *auth) key(username, realm string, src net.Addr) ([]byte, bool) {
	expiry, _, _ := strings.Cut(username, ":")
	t, err := strconv.ParseInt(expiry, 10, 64)
	if err != nil {
		a.log.Debugf("refused credentials from %s: username %q has no expiry", src, username)
		return nil, false
	}
	if t < a.now().Unix() {
		a.log.Debugf("refused credentials from %s: username %q expired", src, username)
		return nil, false
	}
	return pion.GenerateAuthKey(username, realm, password(a.secret, username)), true
}

// password returns the TURN REST password of username.
func password(secret []byte, username string) string {
	mac := hmac.New(sha1.New, secret)
	mac.Write([]byte(username))
	return base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

// quota bounds the allocations open at once, in all and per user (the
// part of the username after the expiry, so that a user's fresh
// credentials count with the old ones).
type quota struct {
	max, perUser int

	mu     sync.Mutex
	total  int
	byUser map[string]int
}

func userOf(username string) string {
	_, user, _ := strings.Cut(username, ":")
	return user
}

// allow implements pion's QuotaHandler. pion asks before it allocates and
// reports the allocation afterwards, so concurrent requests of one user may
// overshoot the bound by the number of its requests in flight.
func (q *quota) allow(username, _ string, _ net.Addr) bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.total < q.max && q.byUser[userOf(username)] < q.perUser
}

func (q *quota) created(_, _ net.Addr, _, username, _ string, _ net.Addr, _ int) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.total++
	q.byUser[userOf(username)]++
}

func (q *quota) deleted(_, _ net.Addr, _, username, _ string) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.total--
	u := userOf(username)
	if q.byUser[u]--; q.byUser[u] <= 0 {
		delete(q.byUser, u)
	}
}
