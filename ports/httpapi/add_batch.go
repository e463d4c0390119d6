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
	eta, badETA := parseETA(r.ETA)
	if err := firstError(required("ref", r.Ref), required("sku", r.SKU), required("qty", r.Qty), badETA); err != nil {
		return nil, err
	}
	return &domain.CreateBatch{Ref: *r.Ref, SKU: *r.SKU, Qty: *r.Qty, ETA: eta}, nil
}

func (s *Server) addBatch(c *gin.Context) {
	cmd, err := decodeCommand[*domain.CreateBatch, addBatchRequest](c)
	if err == nil {
		err = s.app.AddBatch.Handle(c.Request.Context(), cmd)
	}
	if err != nil {
		s.abortWithError(c, err)
		return
	}
	c.JSON(http.StatusCreated, gin.H{"ref": cmd.Ref})
}
