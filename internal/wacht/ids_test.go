package wacht

import (
	"errors"
	"testing"
)

func TestValidateID(t *testing.T) {
	for _, id := range []string{"1", "7210948357125083136", "9223372036854775807"} {
		if err := ValidateID(id); err != nil {
			t.Errorf("ValidateID(%q) = %v, want nil", id, err)
		}
	}
	for _, id := range []string{"", "0", "007", "-1", "1.5", "12a", "../agents/1", "1/../2", "%2F", " 1", "1 ", "9223372036854775808", "١٢", "ctx_123"} {
		if err := ValidateID(id); !errors.Is(err, ErrInvalidID) {
			t.Errorf("ValidateID(%q) = %v, want ErrInvalidID", id, err)
		}
	}
}
