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
        $crate::editing::operations::create_operation! {
            $(#[doc = $add_doc])*
            $add: POST $add_path, tag $tag, under $parent,
                body $new $new_description,
                creates $view $location, also [NotFound],
                |req, pool, caller, parent, key, body|
                    editing::add::<$view>(&req, &pool, &caller, key, parent, &body).await
        }

        $crate::editing::operations::merge_patch_operation! {
            $(#[doc = $change_doc])*
            $change: PATCH $change_path, tag $tag, key ResourceId,
                body $patch $patch_description,
                answers $view $changed, $change_errors,
                |req, pool, _caller, id, body|
                    editing::patch::<editing::Locked<$view>>(&req, &pool, id, &body).await
        }

        $crate::editing::operations::delete_operation! {
            $(#[doc = $delete_doc])*
            $delete: DELETE $delete_path, tag $tag, key ResourceId, by Editor,
                also [BadRequest],
                |req, pool, id| editing::delete::<$view>(&req, &pool, id).await
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

/// Writes a create handler (201 with `Location`, replayed for a repeated
/// `Idempotency-Key`) with its annotation: what it is created under (a key
/// in the path, or nothing), the command, the representation it answers
/// with, the responses it adds to the shared ones, and what it does.
macro_rules! create_operation {
    (
        $(#[doc = $doc:literal])*
        $name:ident: POST $path:literal, tag $tag:literal, under $key:ident,
            body $new:ident $description:literal,
            creates $view:ident $location:literal, also [$($also:ident),*],
            |$req:ident, $pool:ident, $caller:ident, $parent:ident, $idempotency:ident, $body:ident| $handle:expr
    ) => {
        $crate::editing::operations::create_operation! {
            @emit [$key] (Authorized($caller, $key($parent))) (Editor<$key>)
            $(#[doc = $doc])* $name: POST $path, tag $tag,
            body $new $description, creates $view $location, also [$($also),*],
            |$req, $pool, $idempotency, $body| $handle
        }
    };
    (
        $(#[doc = $doc:literal])*
        $name:ident: POST $path:literal, tag $tag:literal,
            body $new:ident $description:literal,
            creates $view:ident $location:literal, also [$($also:ident),*],
            |$req:ident, $pool:ident, $caller:ident, $idempotency:ident, $body:ident| $handle:expr
    ) => {
        $crate::editing::operations::create_operation! {
            @emit [] (Authorized($caller, ())) (Editor)
            $(#[doc = $doc])* $name: POST $path, tag $tag,
            body $new $description, creates $view $location, also [$($also),*],
            |$req, $pool, $idempotency, $body| $handle
        }
    };
    (
        @emit [$($key:ident)?] ($authorized:pat) ($role:ty)
        $(#[doc = $doc:literal])*
        $name:ident: POST $path:literal, tag $tag:literal,
            body $new:ident $description:literal,
            creates $view:ident $location:literal, also [$($also:ident),*],
            |$req:ident, $pool:ident, $idempotency:ident, $body:ident| $handle:expr
    ) => {
        $(#[doc = $doc])*
        #[utoipa::path(
            tag = $tag,
            params($($key)?),
            request_body(content = $new, description = $description, content_type = "application/json"),
            responses(
                (status = 201, description = "Created", body = $view,
                    headers(("Location" = String, description = $location), ("ETag" = String, description = "Strong entity tag"))),
                responses::CreateErrors,
                $(responses::$also,)*
            ),
            security(("api_key" = [])),
        )]
        #[post($path)]
        pub async fn $name(
            $req: actix_web::HttpRequest,
            $pool: actix_web::web::Data<DbPool>,
            $authorized: $role,
            $idempotency: IdempotencyKey,
            $body: JsonBody,
        ) -> Result<actix_web::HttpResponse, AppError> {
            $handle
        }
    };
}

/// Writes a merge-patch handler (`PATCH`, RFC 7396) with its annotation:
/// the key in the path, the patch command, the representation it answers
/// with, and what the handler does with them.
macro_rules! merge_patch_operation {
    (
        $(#[doc = $doc:literal])*
        $name:ident: PATCH $path:literal, tag $tag:literal, key $key:ident,
            body $patch:ident $description:literal,
            answers $view:ident $answer:literal, $errors:ident,
            |$req:ident, $pool:ident, $caller:pat, $id:ident, $body:ident| $handle:expr
    ) => {
        $(#[doc = $doc])*
        #[utoipa::path(
            tag = $tag,
            params($key),
            request_body(content = $patch, description = $description, content_type = "application/merge-patch+json"),
            responses(
                (status = 200, description = $answer, body = $view,
                    headers(("ETag" = String, description = "Strong entity tag of the new representation"))),
                responses::$errors,
            ),
            security(("api_key" = [])),
        )]
        #[patch($path)]
        pub async fn $name(
            $req: actix_web::HttpRequest,
            $pool: actix_web::web::Data<DbPool>,
            Authorized($caller, $key($id)): Editor<$key>,
            $body: JsonBody,
        ) -> Result<actix_web::HttpResponse, AppError> {
            $handle
        }
    };
}

/// Writes a deletion handler (204, honoring `If-Match`) with its
/// annotation: the key in the path, the role it takes, the responses it
/// adds to the guarded ones, and what the handler does.
macro_rules! delete_operation {
    (
        $(#[doc = $doc:literal])*
        $name:ident: DELETE $path:literal, tag $tag:literal, key $key:ident, by $role:ident,
            also [$($also:ident),*],
            |$req:ident, $pool:ident, $id:ident| $handle:expr
    ) => {
        $(#[doc = $doc])*
        #[utoipa::path(
            tag = $tag,
            params($key),
            responses(
                (status = 204, description = "Deleted"),
                responses::GuardedErrors,
                $(responses::$also,)*
            ),
            security(("api_key" = [])),
        )]
        #[delete($path)]
        pub async fn $name(
            $req: actix_web::HttpRequest,
            $pool: actix_web::web::Data<DbPool>,
            Authorized(_caller, $key($id)): $role<$key>,
        ) -> Result<actix_web::HttpResponse, AppError> {
            $handle
        }
    };
}

pub(crate) use {create_operation, delete_operation, merge_patch_operation, positioned_operations};
