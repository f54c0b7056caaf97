//! The four operations every positioned kind has (an article's excerpts and
//! roundups, a roundup's links): add one, change it by merge patch, delete
//! it, and reorder its siblings. They differ only in names, paths and words,
//! so they are written once here and stated per kind as a table of those.

/// Writes a kind's four handlers with their OpenAPI annotations. The
/// invoking module imports what the table names (its view, its commands,
/// the path extractors, `editing`, `responses`, and actix-web's method
/// attributes, which the OpenAPI annotations read by name).
macro_rules! positioned_operations {
    (
        tag: $tag:literal,
        view: $view:ident,

        $(#[doc = $add_doc:literal])*
        add $add:ident: POST $add_path:literal, under $parent:ident,
            body $new:ident $new_description:literal,
            located $location:literal;

        $(#[doc = $change_doc:literal])*
        change $change:ident: PATCH $change_path:literal,
            body $patch:ident $patch_description:literal,
            answers $changed:literal, $change_errors:ident;

        $(#[doc = $delete_doc:literal])*
        delete $delete:ident: DELETE $delete_path:literal;

        $(#[doc = $order_doc:literal])*
        reorder $order:ident: PUT $order_path:literal, under $holder:ident,
            locking $locked:ty, $kind:expr,
            body $order_description:literal,
            answers $holder_view:ident $reordered:literal, $holder_etag:literal;
    ) => {
        $(#[doc = $add_doc])*
        #[utoipa::path(
            tag = $tag,
            params($parent),
            request_body(content = $new, description = $new_description, content_type = "application/json"),
            responses(
                (status = 201, description = "Created", body = $view,
                    headers(("Location" = String, description = $location), ("ETag" = String, description = "Strong entity tag"))),
                responses::CreateErrors,
                responses::NotFound,
            ),
            security(("api_key" = [])),
        )]
        #[post($add_path)]
        pub async fn $add(
            req: actix_web::HttpRequest,
            pool: actix_web::web::Data<DbPool>,
            Authorized(caller, $parent(parent)): Editor<$parent>,
            key: IdempotencyKey,
            body: JsonBody,
        ) -> Result<actix_web::HttpResponse, AppError> {
            editing::add::<$view>(&req, &pool, &caller, key, parent, &body).await
        }

        $(#[doc = $change_doc])*
        #[utoipa::path(
            tag = $tag,
            params(ResourceId),
            request_body(content = $patch, description = $patch_description, content_type = "application/merge-patch+json"),
            responses(
                (status = 200, description = $changed, body = $view,
                    headers(("ETag" = String, description = "Strong entity tag of the new representation"))),
                responses::$change_errors,
            ),
            security(("api_key" = [])),
        )]
        #[patch($change_path)]
        pub async fn $change(
            req: actix_web::HttpRequest,
            pool: actix_web::web::Data<DbPool>,
            Authorized(_caller, ResourceId(id)): Editor<ResourceId>,
            body: JsonBody,
        ) -> Result<actix_web::HttpResponse, AppError> {
            editing::patch::<editing::Locked<$view>>(&req, &pool, id, &body).await
        }

        $(#[doc = $delete_doc])*
        #[utoipa::path(
            tag = $tag,
            params(ResourceId),
            responses(
                (status = 204, description = "Deleted"),
                responses::GuardedErrors,
                responses::BadRequest,
            ),
            security(("api_key" = [])),
        )]
        #[delete($delete_path)]
        pub async fn $delete(
            req: actix_web::HttpRequest,
            pool: actix_web::web::Data<DbPool>,
            Authorized(_caller, ResourceId(id)): Editor<ResourceId>,
        ) -> Result<actix_web::HttpResponse, AppError> {
            editing::delete::<$view>(&req, &pool, id).await
        }

        $(#[doc = $order_doc])*
        #[utoipa::path(
            tag = $tag,
            params($holder),
            request_body(content = editing::Order, description = $order_description, content_type = "application/json"),
            responses(
                (status = 200, description = $reordered, body = $holder_view,
                    headers(("ETag" = String, description = $holder_etag))),
                responses::EditErrors,
            ),
            security(("api_key" = [])),
        )]
        #[put($order_path)]
        pub async fn $order(
            req: actix_web::HttpRequest,
            pool: actix_web::web::Data<DbPool>,
            Authorized(_caller, $holder(holder)): Editor<$holder>,
            body: JsonBody,
        ) -> Result<actix_web::HttpResponse, AppError> {
            editing::reorder::<$locked>(&req, &pool, holder, $kind, &body).await
        }
    };
}

pub(crate) use positioned_operations;
