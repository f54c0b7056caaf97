//! Diesel's view of the tables created in `migrations/`. Kept by hand in step
//! with the SQL; the migration test fails when the two disagree.

diesel::table! {
    outlets (id) {
        id -> Int8,
        slug -> Text,
        name -> Text,
        home_url -> Text,
        country_code -> Nullable<Text>,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    articles (id) {
        id -> Int8,
        slug -> Text,
        title -> Text,
        summary -> Nullable<Text>,
        body -> Text,
        body_html -> Text,
        status -> Text,
        published_at -> Nullable<Timestamptz>,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
        /// The article's feed entry id (`urn:uuid:…`), which survives slug changes.
        entry_id -> Uuid,
        revised_at -> Timestamptz,
    }
}

diesel::table! {
    tags (id) {
        id -> Int8,
        slug -> Text,
        name -> Text,
    }
}

diesel::table! {
    article_tags (article_id, tag_id) {
        article_id -> Int8,
        tag_id -> Int8,
    }
}

diesel::table! {
    excerpts (id) {
        id -> Int8,
        article_id -> Int8,
        position -> Int4,
        headline -> Text,
        bylines -> Array<Text>,
        outlet_id -> Int8,
        source_published_on -> Nullable<Date>,
        source_url -> Text,
        call_to_action -> Nullable<Text>,
        body -> Text,
        body_html -> Text,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    roundups (id) {
        id -> Int8,
        article_id -> Int8,
        position -> Int4,
        title -> Text,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    roundup_links (id) {
        id -> Int8,
        roundup_id -> Int8,
        position -> Int4,
        headline -> Text,
        outlet_id -> Int8,
        url -> Text,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    view_counts (article_id, granularity, bucket_start) {
        article_id -> Int8,
        granularity -> Text,
        bucket_start -> Timestamptz,
        views -> Int8,
    }
}

diesel::joinable!(article_tags -> articles (article_id));
diesel::joinable!(article_tags -> tags (tag_id));
diesel::joinable!(excerpts -> articles (article_id));
diesel::joinable!(excerpts -> outlets (outlet_id));
diesel::joinable!(roundups -> articles (article_id));
diesel::joinable!(roundup_links -> roundups (roundup_id));
diesel::joinable!(roundup_links -> outlets (outlet_id));
diesel::joinable!(view_counts -> articles (article_id));

diesel::allow_tables_to_appear_in_same_query!(
    outlets,
    articles,
    tags,
    article_tags,
    excerpts,
    roundups,
    roundup_links,
    view_counts,
);

diesel::table! {
    api_keys (id) {
        id -> Int8,
        name -> Text,
        role -> Text,
        lookup -> Text,
        secret_hash -> Bytea,
        created_at -> Timestamptz,
        last_used_at -> Nullable<Timestamptz>,
        revoked_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    article_slug_history (slug) {
        slug -> Text,
        article_id -> Int8,
        retired_at -> Timestamptz,
    }
}

diesel::table! {
    article_revisions (id) {
        id -> Int8,
        article_id -> Int8,
        created_at -> Timestamptz,
        created_by -> Nullable<Text>,
        snapshot -> Jsonb,
    }
}

diesel::table! {
    idempotent_requests (api_key_id, idempotency_key) {
        api_key_id -> Int8,
        idempotency_key -> Text,
        request_hash -> Bytea,
        status -> Int2,
        headers -> Jsonb,
        body -> Bytea,
        created_at -> Timestamptz,
    }
}

diesel::joinable!(article_slug_history -> articles (article_id));
diesel::joinable!(article_revisions -> articles (article_id));
diesel::joinable!(idempotent_requests -> api_keys (api_key_id));

diesel::allow_tables_to_appear_in_same_query!(articles, article_slug_history, article_revisions);

diesel::table! {
    view_flushes (batch) {
        batch -> Text,
        flushed_at -> Timestamptz,
    }
}

diesel::table! {
    publication_removals (singleton) {
        singleton -> Bool,
        removed_at -> Timestamptz,
    }
}

// The removal watermark is read in the statement that resolves a list's filters.
diesel::allow_tables_to_appear_in_same_query!(publication_removals, tags);
diesel::allow_tables_to_appear_in_same_query!(publication_removals, outlets);

// The change log (`tx`, an `xid8`, is read and written by SQL alone).
diesel::table! {
    changes (id) {
        id -> Int8,
        seq -> Nullable<Int8>,
        kind -> Text,
        resource_id -> Int8,
        parent_id -> Nullable<Int8>,
        article_id -> Nullable<Int8>,
        slug -> Nullable<Text>,
        previous_slug -> Nullable<Text>,
        existed -> Bool,
        was_public -> Bool,
        action -> Nullable<Text>,
        visible -> Nullable<Bool>,
        public -> Nullable<Bool>,
        etag -> Nullable<Text>,
        committed_at -> Nullable<Timestamptz>,
    }
}

// Webhooks: subscriptions to the change log, each attempt to deliver to
// them, and the redeliveries asked for.
diesel::table! {
    webhooks (id) {
        id -> Int8,
        url -> Text,
        event_types -> Array<Text>,
        audience -> Text,
        secret -> Text,
        active -> Bool,
        last_delivered_event_id -> Int8,
        attempts -> Int4,
        failing_since -> Nullable<Timestamptz>,
        next_attempt_at -> Nullable<Timestamptz>,
        given_up_at -> Nullable<Timestamptz>,
        last_error -> Nullable<Text>,
        lease_token -> Nullable<Int8>,
        lease_until -> Nullable<Timestamptz>,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    webhook_deliveries (id) {
        id -> Int8,
        webhook_id -> Int8,
        event_id -> Int8,
        event_type -> Text,
        attempt -> Int4,
        outcome -> Text,
        status_code -> Nullable<Int4>,
        error -> Nullable<Text>,
        duration_ms -> Int4,
        attempted_at -> Timestamptz,
        redelivery -> Bool,
    }
}

diesel::table! {
    webhook_redeliveries (id) {
        id -> Int8,
        webhook_id -> Int8,
        event_id -> Int8,
        lease_token -> Nullable<Int8>,
        lease_until -> Nullable<Timestamptz>,
        requested_at -> Timestamptz,
    }
}
