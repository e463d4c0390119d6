package httpapi

import (
	"net/http"

	"github.com/gin-gonic/gin"
)

// listPoison answers the parked messages, oldest first.
func (s *Server) listPoison(c *gin.Context) {
	parked, err := s.poison.List(c.Request.Context())
	if err != nil {
		s.abortWithError(c, err)
		return
	}
	if parked == nil {
		c.JSON(http.StatusOK, []any{})
		return
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
