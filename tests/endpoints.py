"""Where the example site mounts the API's endpoints, for every test that calls them."""

URL = "/v2/user/favourites"
