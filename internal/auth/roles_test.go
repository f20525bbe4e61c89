package auth_test

import (
	"testing"

	"github.com/minimall/minimall/internal/auth"
)

// apiTable is the roles table of API.md, written out independently of the
// grants in roles.go.
var apiTable = map[auth.Permission]map[auth.Role]bool{
	auth.PermCatalogWrite:      {auth.RoleOperator: true},
	auth.PermStockAdjust:       {auth.RoleOperator: true, auth.RoleWarehouse: true},
	auth.PermOrdersView:        {auth.RoleOperator: true, auth.RoleCustomerService: true, auth.RoleWarehouse: true},
	auth.PermOrdersShip:        {auth.RoleOperator: true, auth.RoleWarehouse: true},
	auth.PermAfterSalesDecide:  {auth.RoleOperator: true, auth.RoleCustomerService: true},
	auth.PermAfterSalesReceive: {auth.RoleOperator: true, auth.RoleWarehouse: true},
	auth.PermReviewsModerate:   {auth.RoleOperator: true, auth.RoleCustomerService: true},
	auth.PermDashboard:         {auth.RoleOperator: true, auth.RoleCustomerService: true, auth.RoleWarehouse: true},
	auth.PermStaffManage:       {},
	auth.PermPaymentsResolve:   {auth.RoleOperator: true},
	auth.PermAuditView:         {},
}

func TestRolesMatchAPITable(t *testing.T) {
	t.Parallel()
	if len(apiTable) != len(auth.Permissions) {
		t.Fatalf("the test table has %d permissions, the code %d", len(apiTable), len(auth.Permissions))
	}
	for _, p := range auth.Permissions {
		for _, r := range auth.Roles {
			want := r == auth.RoleOwner || apiTable[p][r]
			if got := r.Can(p); got != want {
				t.Errorf("%s can %s = %v, want %v", r, p, got, want)
			}
		}
	}
	if auth.Role("").Can(auth.PermOrdersView) || auth.Role("admin").Can(auth.PermOrdersView) {
		t.Error("unknown roles must hold nothing")
	}
}
