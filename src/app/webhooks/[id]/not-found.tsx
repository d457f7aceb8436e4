import Link from "next/link";

export default function WebhookEventNotFound() {
  return (
    <>
      <h1>Webhook event not found</h1>
      <section className="empty" aria-label="Not found">
        <p>There is no webhook event with this id.</p>
        <p>
          <Link href="/webhooks">Back to the webhooks</Link>
        </p>
      </section>
    </>
  );
}
