// An editor's round trip through Broadsheet, typed from the server's own
// OpenAPI document: every path, parameter and body below is checked by tsc
// against `generated/broadsheet.d.ts`, so a request body the document does
// not describe fails to compile rather than to run.
import assert from "node:assert/strict";
import createClient from "openapi-fetch";
import type { paths } from "./generated/broadsheet.js";

type NewOutlet = NonNullable<paths["/v1/outlets"]["post"]["requestBody"]>["content"]["application/json"];
type NewArticle = NonNullable<paths["/v1/articles"]["post"]["requestBody"]>["content"]["application/json"];
type ArticlePatch = NonNullable<
  paths["/v1/articles/{slug}"]["patch"]["requestBody"]
>["content"]["application/merge-patch+json"];

const baseUrl = process.env.BROADSHEET_URL ?? "http://127.0.0.1:8080";
const key = process.env.BROADSHEET_KEY;
if (!key) throw new Error("BROADSHEET_KEY must hold an editor key");

const editor = createClient<paths>({ baseUrl, headers: { Authorization: `Bearer ${key}` } });
const reader = createClient<paths>({ baseUrl });
const mergePatch = { "Content-Type": "application/merge-patch+json" };

function etagOf(response: Response): string {
  const etag = response.headers.get("ETag");
  assert.ok(etag, `${response.url} sent no ETag`);
  return etag;
}

const slug = `typed-client-${Date.now()}`;

// An outlet of its own to cite: whatever else has been done to the server's
// outlets (renamed, deleted), this one is there.
const outlet: NewOutlet = { slug: `${slug}-outlet`, name: "The Typed Times", home_url: "https://example.org/" };
const source = await editor.POST("/v1/outlets", { body: outlet });
assert.equal(source.response.status, 201, JSON.stringify(source.error));
assert.equal(source.data?.slug, outlet.slug);

const draft: NewArticle = {
  slug,
  title: "A draft from the typed client",
  summary: "Removed by the merge patch below",
  body_markdown: "The editor's *commentary*.",
  status: "draft",
  tags: ["contract"],
  excerpts: [
    {
      headline: "What the source said",
      bylines: ["A. Reporter"],
      outlet: outlet.slug,
      source_published_on: "2024-05-01",
      source_url: "https://www.dawn.com/news/1",
      call_to_action: "Read the whole article",
      body_markdown: "A long passage quoted from the source.",
    },
  ],
  roundups: [
    {
      title: "Elsewhere",
      links: [{ headline: "Another view", outlet: outlet.slug, url: "https://example.org/1" }],
    },
  ],
};

const created = await editor.POST("/v1/articles", {
  params: { header: { "Idempotency-Key": `${slug}-create` } },
  body: draft,
});
assert.equal(created.response.status, 201, JSON.stringify(created.error));
assert.ok(created.data);
assert.equal(created.data.slug, slug);
assert.equal(created.data.status, "draft");
assert.equal(created.data.excerpts.length, 1);
assert.equal(created.data.excerpts[0]?.outlet.slug, outlet.slug);
assert.equal(created.data.roundups[0]?.links.length, 1);

const unpublished = await reader.GET("/v1/articles/{slug}", { params: { path: { slug } } });
assert.equal(unpublished.response.status, 404, "a draft must not be public");

const retitle: ArticlePatch = { title: "Retitled by a merge patch", summary: null };
const patched = await editor.PATCH("/v1/articles/{slug}", {
  params: { path: { slug }, header: { "If-Match": etagOf(created.response) } },
  headers: mergePatch,
  body: retitle,
});
assert.equal(patched.response.status, 200, JSON.stringify(patched.error));
assert.equal(patched.data?.title, "Retitled by a merge patch");
assert.equal(patched.data?.summary ?? null, null);

const publish: ArticlePatch = { status: "published" };
const published = await editor.PATCH("/v1/articles/{slug}", {
  params: { path: { slug }, header: { "If-Match": etagOf(patched.response) } },
  headers: mergePatch,
  body: publish,
});
assert.equal(published.response.status, 200, JSON.stringify(published.error));
assert.equal(published.data?.status, "published");
assert.ok(published.data?.published_at, "publishing without a date publishes now");

const read = await reader.GET("/v1/articles/{slug}", { params: { path: { slug } } });
assert.equal(read.response.status, 200, JSON.stringify(read.error));
assert.ok(read.data);
assert.equal(read.data.title, "Retitled by a merge patch");
assert.equal(read.data.status, "published");
assert.deepEqual(
  read.data.tags.map((tag) => tag.slug),
  ["contract"],
);
assert.equal(read.data.excerpts[0]?.headline, "What the source said");
assert.deepEqual(read.data.excerpts[0]?.bylines, ["A. Reporter"]);
assert.equal(read.data.roundups[0]?.links[0]?.url, "https://example.org/1");
assert.match(read.data.body_html, /<em>commentary<\/em>/);

console.log(`typed client: created, patched, published and read back ${slug}`);
