package httpapi

import (
	"net/http"

	"github.com/gin-gonic/gin"

	"allocation/domain"
)

// addBatchRequest uses pointers so that a missing field can be told from a
// zero value.
type addBatchRequest struct {
	Ref *string `json:"ref"`
	SKU *string `json:"sku"`
	Qty *int    `json:"qty"`
	ETA *string `json:"eta"`
}

func (r addBatchRequest) command() (*domain.CreateBatch, error) {
	ref, err := requireString("ref", r.Ref)
	if err != nil {
		return nil, err
	}
	sku, err := requireString("sku", r.SKU)
	if err != nil {
		return nil, err
	}
	qty, err := requireInt("qty", r.Qty)
	if err != nil {
		return nil, err
	}
	eta, err := parseETA(r.ETA)
	if err != nil {
		return nil, err
	}
	return &domain.CreateBatch{Ref: ref, SKU: sku, Qty: qty, ETA: eta}, nil
}

func (s *Server) addBatch(c *gin.Context) {
	var req addBatchRequest
	if err := decodeJSON(c.Request, c.Writer, &req); err != nil {
		s.abortWithError(c, err)
		return
	}
	cmd, err := req.command()
	if err != nil {
		s.abortWithError(c, err)
		return
	}
	if err := s.app.AddBatch.Handle(c.Request.Context(), cmd); err != nil {
		s.abortWithError(c, err)
		return
	}
	c.JSON(http.StatusCreated, gin.H{"ref": cmd.Ref})
}
