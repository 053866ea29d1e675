// Astronomer (Astro) Deployment API keys as immutable resources: any change replaces a key, the new one first; expiring keys are replaced in time; the secret is always a Pulumi secret.
package astrokeys
