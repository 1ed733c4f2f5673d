"""The permission matrix's expected answers, written down and reviewed: not derived from the product.

One row per API endpoint (method, URL name), one column per principal: anonymous; a viewer, member,
admin and owner of the tenant; a global admin; an API key (made by the owner) of each scope. Each
cell is the exact status code of the request tests/accounts/matrix_requests.py makes: the
endpoint's success code where the caller may, 403 where it may not, 401 without a credential.
A handful of allowed cells hold a 4xx the product answers after the permission check (why is on the
row); they still tell an allowed caller from a refused one.

Reviewed against what a product owner expects (not only against what the code does): where the two
differ, the cell holds what the product owner expects and KNOWN_BUGS marks the case xfail(strict).

Add a row with every new endpoint: test_every_endpoint_in_the_url_conf_is_in_the_golden_table fails
until then.
"""

# fmt: off
# Columns: anonymous, viewer, member, admin, owner, global admin; keys: search upload storage metrics admin
GOLDEN: dict[tuple[str, str], tuple[int, ...]] = {
    ("POST", "admin-impersonate"):                (401, 403, 403, 403, 403, 201,   403, 403, 403, 403, 403),
    # 400 not_impersonating: these credentials are no impersonation; any signed-in caller may try
    ("POST", "admin-impersonate-stop"):           (401, 400, 400, 400, 400, 400,   400, 400, 400, 400, 400),
    ("GET", "admin-tenant"):                      (401, 403, 403, 403, 403, 200,   403, 403, 403, 403, 403),
    ("PATCH", "admin-tenant"):                    (401, 403, 403, 403, 403, 200,   403, 403, 403, 403, 403),
    ("GET", "admin-tenants"):                     (401, 403, 403, 403, 403, 200,   403, 403, 403, 403, 403),
    ("POST", "admin-tenants"):                    (401, 403, 403, 403, 403, 201,   403, 403, 403, 403, 403),
    ("GET", "admin-tier"):                        (401, 403, 403, 403, 403, 200,   403, 403, 403, 403, 403),
    ("PATCH", "admin-tier"):                      (401, 403, 403, 403, 403, 200,   403, 403, 403, 403, 403),
    ("GET", "admin-tiers"):                       (401, 403, 403, 403, 403, 200,   403, 403, 403, 403, 403),
    ("DELETE", "api-key"):                        (401, 403, 403, 204, 204, 204,   403, 403, 403, 403, 403),
    ("GET", "api-keys"):                          (401, 403, 403, 200, 200, 200,   403, 403, 403, 403, 403),
    ("POST", "api-keys"):                         (401, 403, 403, 201, 201, 201,   403, 403, 403, 403, 403),
    ("GET", "audit-events"):                      (401, 403, 403, 200, 200, 200,   403, 403, 403, 403, 200),
    ("GET", "audit-events-export"):               (401, 403, 403, 200, 200, 200,   403, 403, 403, 403, 200),
    ("POST", "auth-login"):                       (200, 200, 200, 200, 200, 200,   200, 200, 200, 200, 200),
    # 401 mfa_challenge_invalid: the request's challenge is unknown; these take no credential, and
    # every caller gets the same answer (the flows are in tests/accounts/test_mfa.py)
    ("POST", "auth-login-mfa"):                   (401, 401, 401, 401, 401, 401,   401, 401, 401, 401, 401),
    ("POST", "auth-login-mfa-setup"):             (401, 401, 401, 401, 401, 401,   401, 401, 401, 401, 401),
    ("GET", "auth-mfa"):                          (401, 200, 200, 200, 200, 200,   403, 403, 403, 403, 403),
    ("POST", "auth-mfa-setup"):                   (401, 200, 200, 200, 200, 200,   403, 403, 403, 403, 403),
    # 400: an empty code; only allowed callers get that far
    ("POST", "auth-mfa-confirm"):                 (401, 400, 400, 400, 400, 400,   403, 403, 403, 403, 403),
    ("POST", "auth-mfa-disable"):                 (401, 400, 400, 400, 400, 400,   403, 403, 403, 403, 403),
    ("POST", "auth-mfa-recovery-codes"):          (401, 400, 400, 400, 400, 400,   403, 403, 403, 403, 403),
    # 401 sso_code_invalid: the request's code is unknown; no credential taken, the same for everyone
    ("POST", "auth-sso-token"):                   (401, 401, 401, 401, 401, 401,   401, 401, 401, 401, 401),
    # 404 signup_disabled: self-service sign-up is off unless the operator opens it (test_signup.py)
    ("POST", "auth-register"):                    (404, 404, 404, 404, 404, 404,   404, 404, 404, 404, 404),
    ("POST", "auth-register-confirm"):            (404, 404, 404, 404, 404, 404,   404, 404, 404, 404, 404),
    ("POST", "auth-logout"):                      (401, 204, 204, 204, 204, 204,   403, 403, 403, 403, 403),
    ("GET", "auth-me"):                           (401, 200, 200, 200, 200, 200,   200, 200, 200, 200, 200),
    ("POST", "auth-password-change"):             (401, 204, 204, 204, 204, 204,   403, 403, 403, 403, 403),
    ("POST", "auth-password-reset"):              (202, 202, 202, 202, 202, 202,   202, 202, 202, 202, 202),
    ("POST", "auth-password-reset-confirm"):      (204, 204, 204, 204, 204, 204,   204, 204, 204, 204, 204),
    ("POST", "auth-refresh"):                     (200, 200, 200, 200, 200, 200,   200, 200, 200, 200, 200),
    ("DELETE", "auth-session-revoke"):            (401, 204, 204, 204, 204, 204,   403, 403, 403, 403, 403),
    ("GET", "auth-sessions"):                     (401, 200, 200, 200, 200, 200,   403, 403, 403, 403, 403),
    ("GET", "duplicates-group"):                  (401, 200, 200, 200, 200, 200,   200, 200, 403, 403, 200),
    ("POST", "duplicates-group-dismiss"):         (401, 403, 403, 200, 200, 200,   403, 403, 403, 403, 200),
    ("POST", "duplicates-group-resolve"):         (401, 403, 403, 200, 200, 200,   403, 403, 403, 403, 200),
    ("GET", "duplicates-groups"):                 (401, 200, 200, 200, 200, 200,   200, 200, 403, 403, 200),
    ("GET", "duplicates-job"):                    (401, 403, 403, 200, 200, 200,   403, 403, 403, 403, 200),
    ("GET", "duplicates-report"):                 (401, 200, 200, 200, 200, 200,   200, 200, 403, 403, 200),
    ("POST", "duplicates-resolution-undo"):       (401, 403, 403, 200, 200, 200,   403, 403, 403, 403, 200),
    ("POST", "duplicates-remove-identical"):      (401, 403, 403, 200, 200, 200,   403, 403, 403, 403, 200),
    ("GET", "duplicates-upload-policy"):          (401, 403, 403, 200, 200, 200,   403, 403, 403, 403, 200),
    ("PATCH", "duplicates-upload-policy"):        (401, 403, 403, 200, 200, 200,   403, 403, 403, 403, 200),
    ("POST", "duplicates-rescan"):                (401, 403, 403, 202, 202, 202,   403, 403, 403, 403, 202),
    ("GET", "duplicates-settings"):               (401, 403, 403, 200, 200, 200,   403, 403, 403, 403, 200),
    ("PATCH", "duplicates-settings"):             (401, 403, 403, 200, 200, 200,   403, 403, 403, 403, 200),
    ("POST", "duplicates-resolve-all"):           (401, 403, 403, 200, 200, 200,   403, 403, 403, 403, 200),
    ("DELETE", "image"):                          (401, 403, 204, 204, 204, 204,   403, 403, 403, 403, 204),
    ("GET", "mfa-policy"):                        (401, 403, 403, 403, 200, 200,   403, 403, 403, 403, 403),
    ("PUT", "mfa-policy"):                        (401, 403, 403, 403, 200, 200,   403, 403, 403, 403, 403),
    # the image is the member's: an upload key (its creator is the owner) may not edit it (not_your_image)
    ("PATCH", "image"):                           (401, 403, 200, 200, 200, 200,   403, 403, 403, 403, 200),
    # refusals per image are in the 200 body; viewers and keys without an image write are refused
    ("POST", "images-bulk-edit"):                 (401, 403, 200, 200, 200, 200,   403, 200, 403, 403, 200),
    ("GET", "image"):                             (401, 200, 200, 200, 200, 200,   200, 200, 403, 403, 200),
    ("GET", "image-download"):                    (401, 200, 200, 200, 200, 200,   200, 200, 403, 403, 200),
    ("GET", "image-metadata"):                    (401, 200, 200, 200, 200, 200,   200, 200, 403, 403, 200),
    ("POST", "image-restore"):                    (401, 403, 200, 200, 200, 200,   403, 403, 403, 403, 200),
    ("POST", "image-retry"):                      (401, 403, 202, 202, 202, 202,   403, 202, 403, 403, 403),
    ("GET", "image-status"):                      (401, 200, 200, 200, 200, 200,   200, 200, 403, 403, 200),
    ("GET", "image-vector"):                      (401, 200, 200, 200, 200, 200,   200, 403, 403, 403, 403),
    ("GET", "image-thumbnail"):                   (401, 200, 200, 200, 200, 200,   200, 200, 403, 403, 200),
    ("DELETE", "image-thumbnail-delete"):         (401, 403, 403, 204, 204, 204,   403, 403, 403, 403, 204),
    ("GET", "image-thumbnails"):                  (401, 200, 200, 200, 200, 200,   200, 200, 403, 403, 200),
    ("POST", "image-thumbnails-generate"):        (401, 403, 403, 200, 200, 200,   403, 403, 403, 403, 200),
    ("GET", "images"):                            (401, 200, 200, 200, 200, 200,   200, 200, 403, 403, 200),
    ("POST", "images-batch"):                     (401, 403, 202, 202, 202, 202,   403, 202, 403, 403, 403),
    ("POST", "images-bulk"):                      (401, 200, 200, 200, 200, 200,   200, 200, 403, 403, 200),
    ("GET", "images-deleted"):                    (401, 200, 200, 200, 200, 200,   200, 200, 403, 403, 200),
    ("GET", "images-failed"):                     (401, 200, 200, 200, 200, 200,   200, 200, 403, 403, 200),
    ("POST", "images-restore-batch"):             (401, 403, 200, 200, 200, 200,   403, 200, 403, 403, 200),
    ("GET", "images-search"):                     (401, 200, 200, 200, 200, 200,   200, 200, 403, 403, 200),
    ("POST", "images-trash-empty"):               (401, 403, 403, 202, 202, 202,   403, 403, 403, 403, 202),
    ("POST", "images-trash-restore-all"):         (401, 403, 200, 200, 200, 200,   403, 200, 403, 403, 200),
    ("POST", "images-thumbnails-batch-regenerate"):(401, 403, 403, 202, 202, 202,   403, 403, 403, 403, 202),
    ("POST", "images-upload"):                    (401, 403, 202, 202, 202, 202,   403, 202, 403, 403, 403),
    # 400 url_not_allowed: no public host in tests, private ones refused; only allowed callers get that far
    ("POST", "images-url"):                       (401, 403, 400, 400, 400, 400,   403, 400, 403, 403, 403),
    ("POST", "index-scan"):                       (401, 403, 403, 202, 202, 202,   403, 403, 202, 403, 202),
    ("GET", "index-status"):                      (401, 403, 403, 200, 200, 200,   403, 403, 200, 403, 200),
    ("GET", "jobs"):                              (401, 200, 200, 200, 200, 200,   200, 200, 200, 200, 200),
    ("GET", "job"):                               (401, 200, 200, 200, 200, 200,   200, 200, 403, 403, 200),
    # whoever sees a thumbnails job (images.view) may not stop it: that takes thumbnails.manage
    ("POST", "job-cancel"):                       (401, 403, 403, 200, 200, 200,   403, 403, 403, 403, 200),
    # retrying a failed thumbnails job takes thumbnails.manage too (a new job each time: 202)
    ("POST", "job-retry"):                        (401, 403, 403, 202, 202, 202,   403, 403, 403, 403, 202),
    ("POST", "search-duplicates"):                (401, 200, 200, 200, 200, 200,   200, 403, 403, 403, 403),
    ("POST", "search-extract"):                   (401, 200, 200, 200, 200, 200,   200, 403, 403, 403, 403),
    ("GET", "search-hash"):                       (401, 200, 200, 200, 200, 200,   200, 403, 403, 403, 403),
    ("POST", "search-model-activate"):            (401, 403, 403, 202, 202, 202,   403, 403, 403, 403, 202),
    # 400 invalid_search: the built-in descriptor is always on; only allowed callers get that far
    ("POST", "search-model-deactivate"):          (401, 403, 403, 400, 400, 400,   403, 403, 403, 403, 400),
    ("GET", "search-models"):                     (401, 200, 200, 200, 200, 200,   200, 403, 403, 403, 403),
    ("POST", "search-similarity"):                (401, 200, 200, 200, 200, 200,   200, 403, 403, 403, 403),
    # 409 model_unavailable: no CLIP model is switched on here; only allowed callers get that far
    ("GET", "search-text"):                       (401, 409, 409, 409, 409, 409,   409, 403, 403, 403, 403),
    ("GET", "stats-overview"):                    (401, 403, 403, 403, 403, 200,   403, 403, 403, 403, 403),
    ("PATCH", "storage-config"):                  (401, 403, 403, 200, 200, 200,   403, 403, 200, 403, 200),
    ("DELETE", "storage-config"):                 (401, 403, 403, 204, 204, 204,   403, 403, 204, 403, 204),
    ("POST", "storage-config-create"):            (401, 403, 403, 201, 201, 201,   403, 403, 201, 403, 201),
    ("GET", "storage-config-jobs"):               (401, 403, 403, 200, 200, 200,   403, 403, 200, 403, 200),
    ("POST", "storage-config-migrate"):           (401, 403, 403, 202, 202, 202,   403, 403, 202, 403, 202),
    ("POST", "storage-move"):                     (401, 403, 403, 202, 202, 202,   403, 403, 202, 403, 202),
    ("PUT", "storage-config-set-default"):        (401, 403, 403, 200, 200, 200,   403, 403, 200, 403, 200),
    ("POST", "storage-config-test"):              (401, 403, 403, 200, 200, 200,   403, 403, 200, 403, 200),
    ("GET", "sso-policy"):                        (401, 403, 403, 403, 200, 200,   403, 403, 403, 403, 403),
    ("PUT", "sso-policy"):                        (401, 403, 403, 403, 200, 200,   403, 403, 403, 403, 403),
    ("DELETE", "sso-provider"):                   (401, 403, 403, 403, 204, 204,   403, 403, 403, 403, 403),
    ("GET", "sso-provider"):                      (401, 403, 403, 403, 200, 200,   403, 403, 403, 403, 403),
    ("PATCH", "sso-provider"):                    (401, 403, 403, 403, 200, 200,   403, 403, 403, 403, 403),
    ("GET", "sso-providers"):                     (401, 403, 403, 403, 200, 200,   403, 403, 403, 403, 403),
    ("POST", "sso-providers"):                    (401, 403, 403, 403, 201, 201,   403, 403, 403, 403, 403),
    ("GET", "storage-config-usage"):              (401, 403, 403, 200, 200, 200,   403, 403, 200, 403, 200),
    ("GET", "storage-configs"):                   (401, 403, 403, 200, 200, 200,   403, 403, 200, 403, 200),
    ("GET", "storage-job"):                       (401, 403, 403, 200, 200, 200,   403, 403, 200, 403, 200),
    ("POST", "storage-job-cancel"):               (401, 403, 403, 200, 200, 200,   403, 403, 200, 403, 200),
    ("GET", "tenant-analytics"):                  (401, 403, 403, 200, 200, 200,   403, 403, 403, 200, 200),
    ("GET", "thumbnail-config"):                  (401, 200, 200, 200, 200, 200,   200, 200, 403, 403, 200),
    ("PUT", "thumbnail-config"):                  (401, 403, 403, 200, 200, 200,   403, 403, 403, 403, 200),
    ("POST", "thumbnail-config-apply"):           (401, 403, 403, 202, 202, 202,   403, 403, 403, 403, 202),
    ("DELETE", "user"):                           (401, 403, 403, 204, 204, 204,   403, 403, 403, 403, 204),
    ("GET", "user"):                              (401, 403, 403, 200, 200, 200,   403, 403, 403, 403, 200),
    ("PATCH", "user"):                            (401, 403, 403, 200, 200, 200,   403, 403, 403, 403, 200),
    ("POST", "exports"):                          (401, 403, 403, 202, 202, 202,   403, 403, 403, 403, 202),
    ("GET", "export-download"):                   (401, 403, 403, 200, 200, 200,   403, 403, 403, 403, 200),
    ("GET", "export-images-csv"):                 (401, 403, 403, 200, 200, 200,   403, 403, 403, 403, 200),
    ("GET", "export-images-jsonl"):               (401, 403, 403, 200, 200, 200,   403, 403, 403, 403, 200),
    ("GET", "export-duplicates-csv"):             (401, 403, 403, 200, 200, 200,   403, 403, 403, 403, 200),
    ("GET", "webhooks"):                          (401, 403, 403, 200, 200, 200,   403, 403, 403, 403, 403),
    ("POST", "webhooks"):                         (401, 403, 403, 201, 201, 201,   403, 403, 403, 403, 403),
    ("GET", "webhook"):                           (401, 403, 403, 200, 200, 200,   403, 403, 403, 403, 403),
    ("PATCH", "webhook"):                         (401, 403, 403, 200, 200, 200,   403, 403, 403, 403, 403),
    ("DELETE", "webhook"):                        (401, 403, 403, 204, 204, 204,   403, 403, 403, 403, 403),
    ("GET", "webhook-deliveries"):                (401, 403, 403, 200, 200, 200,   403, 403, 403, 403, 403),
    ("POST", "webhook-redeliver"):                (401, 403, 403, 202, 202, 202,   403, 403, 403, 403, 403),
    ("POST", "webhook-ping"):                     (401, 403, 403, 202, 202, 202,   403, 403, 403, 403, 403),
    # every admin reads the settings; keep_gps is the owner's (tenant.settings), so admins get 403
    ("GET", "tenant-settings"):                   (401, 403, 403, 200, 200, 200,   403, 403, 403, 403, 200),
    ("PATCH", "tenant-settings"):                 (401, 403, 403, 403, 200, 200,   403, 403, 403, 403, 403),
    ("GET", "users"):                             (401, 403, 403, 200, 200, 200,   403, 403, 403, 403, 200),
    # 409 user_quota_exceeded: the tenant's tier allows 5 users; only allowed callers get that far
    ("POST", "users"):                            (401, 403, 403, 409, 409, 409,   403, 403, 403, 403, 409),
}
# fmt: on

# Cells where the product answers differently from the golden table: real bugs, reported, not fixed here.
KNOWN_BUGS: dict[tuple[str, str, str], str] = {}
