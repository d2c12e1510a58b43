"""The staff pages. Each view scopes to the staff member's practice (clinic.selectors), parses a
form, calls one function (access.actions or clinic.services) and renders or redirects."""
