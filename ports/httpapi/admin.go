package httpapi

import (
	"crypto/sha256"
	"crypto/subtle"
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"
)

// adminDisabledMessage answers /admin/* while no token is configured.
const adminDisabledMessage = "the admin API is disabled: start the service with ADMIN_TOKEN (or --admin-token) set, " +
	"and send it as \"Authorization: Bearer <token>\""

// adminAuth guards /admin/*: without a configured token every request is
// refused with 403; with one, a request must carry it as a bearer token
// (401 otherwise). Tokens are compared in constant time, as hashes so that
// not even their length leaks; the refusal is logged without the token.
func (s *Server) adminAuth(c *gin.Context) {
	if s.adminToken == nil {
		c.AbortWithStatusJSON(http.StatusForbidden, errorBody{Message: adminDisabledMessage})
		return
	}
	scheme, token, _ := strings.Cut(c.GetHeader("Authorization"), " ")
	reason := ""
	switch {
	case c.GetHeader("Authorization") == "":
		reason = "no Authorization header"
	case !strings.EqualFold(scheme, "Bearer"):
		reason = "Authorization is not a bearer token"
	default:
		given := sha256.Sum256([]byte(strings.TrimSpace(token)))
		if subtle.ConstantTimeCompare(given[:], s.adminToken) != 1 {
			reason = "wrong bearer token"
		}
	}
	if reason != "" {
		s.logger.WarnContext(c.Request.Context(), "admin request refused", "reason", reason,
			"method", c.Request.Method, "path", c.Request.URL.Path, "remote_addr", c.ClientIP())
		c.Header("WWW-Authenticate", `Bearer realm="allocation admin"`)
		c.AbortWithStatusJSON(http.StatusUnauthorized, errorBody{Message: "admin API: " + reason + ": send \"Authorization: Bearer <ADMIN_TOKEN>\""})
		return
	}
	c.Next()
}

// hashAdminToken is what adminAuth compares with; nil for no token.
func hashAdminToken(token string) []byte {
	if token == "" {
		return nil
	}
	sum := sha256.Sum256([]byte(token))
	return sum[:]
}

// isAdminPath tells whether an unmatched path is under /admin, whose
// answers (even 404) are for authenticated callers only.
func isAdminPath(path string) bool { return path == "/admin" || strings.HasPrefix(path, "/admin/") }
