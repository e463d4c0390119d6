package httpapi

import (
	"fmt"
	"net/http"
	"net/url"
	"strconv"

	"github.com/gin-gonic/gin"

	"allocation/app"
)

// listPoison answers one page of parked messages, oldest first:
// ?limit=N (default app.DefaultPoisonPageLimit, at most
// app.MaxPoisonPageLimit) messages after ?after=ID (the last ID of the
// previous page). A full page carries a Link header to the next one; a
// shorter page is the last.
func (s *Server) listPoison(c *gin.Context) {
	page := app.PoisonPage{After: c.Query("after")}
	if v, ok := c.GetQuery("limit"); ok {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > app.MaxPoisonPageLimit {
			s.abortWithError(c, badRequestError{reason: fmt.Sprintf("limit: must be an integer from 1 to %d, got %q", app.MaxPoisonPageLimit, app.TruncateForLog(v, 32))})
			return
		}
		page.Limit = n
	}
	parked, err := s.poison.List(c.Request.Context(), page)
	if err != nil {
		s.abortWithError(c, err)
		return
	}
	if parked == nil {
		parked = []app.ParkedMessage{}
	}
	if limit := page.EffectiveLimit(); len(parked) == limit {
		next := url.Values{"after": {parked[len(parked)-1].ID}, "limit": {strconv.Itoa(limit)}}
		c.Header("Link", "</admin/poison?"+next.Encode()+`>; rel="next"`)
	}
	c.JSON(http.StatusOK, parked)
}

// replayRequest names what to replay; "all" must be said explicitly so
// that an empty body never replays the whole queue by accident.
type replayRequest struct {
	IDs []string `json:"ids"`
	All bool     `json:"all"`
}

func (s *Server) replayPoison(c *gin.Context) {
	var req replayRequest
	if err := decodeJSON(c.Request, c.Writer, &req); err != nil {
		s.abortWithError(c, err)
		return
	}
	switch {
	case req.All && len(req.IDs) > 0:
		s.abortWithError(c, badRequestError{reason: "ids: give ids or all, not both"})
		return
	case !req.All && len(req.IDs) == 0:
		s.abortWithError(c, badRequestError{reason: "ids: give the ids to replay, or all: true"})
		return
	}
	replayed, err := s.poison.Replay(c.Request.Context(), req.IDs)
	if err != nil {
		s.abortWithError(c, err)
		return
	}
	if replayed == nil {
		replayed = []string{}
	}
	c.JSON(http.StatusOK, gin.H{"replayed": replayed})
}
